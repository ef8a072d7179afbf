#!/usr/bin/env bash
# The distillation experiments of docs/distillation.md, on the data of `make data`.
#
#   scripts/distill_experiments.sh OUT [PART...]
#
# PART is one or more of: teachers rt-kd3 rt-lab3 rt-kd2 rt-lab2 rt-pretrained rt-augment ner embed
# (default: all of them, in that order; rt-kd2 and rt-lab2 run seed 42 only). Each run is skipped when its folder is complete, so the script can be stopped and started again.
# Every run is single-threaded (OMP_NUM_THREADS=1): two parts can share a 2-core machine, e.g.
#   scripts/distill_experiments.sh exp teachers
#   scripts/distill_experiments.sh exp rt-kd3 rt-kd2 & scripts/distill_experiments.sh exp rt-lab3 rt-lab2 ner
# Each folder's distillation.json holds the teacher's and the student's scores and their throughput.
set -euo pipefail
OUT=${1:?usage: scripts/distill_experiments.sh OUT [PART...]}
shift
PARTS=${*:-teachers rt-kd3 rt-lab3 rt-kd2 rt-lab2 rt-pretrained rt-augment ner embed}
D=${BERTKIT_CACHE:-$HOME/.cache/bertkit}/data
B=${BERTKIT:-bertkit}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$OUT"
RT="--train $D/rt/train.jsonl --dev $D/rt/dev.jsonl --test $D/rt/test.jsonl"
WNUT="--train $D/wnut/train.conll --dev $D/wnut/dev.conll --test $D/wnut/test.conll"

done_() { [ -f "$1/config.json" ]; }

rt_students() {  # name, layers, extra options, seeds...
  local name=$1 layers=$2 extra=$3
  shift 3
  for seed in "$@"; do
    done_ "$OUT/rt-$name-s$seed" || $B distill --teacher "$OUT/rt-teacher" --student "$layers" $RT \
      --out "$OUT/rt-$name-s$seed" --seed $seed --quiet $extra
  done
}

for part in $PARTS; do
  case $part in
    teachers)
      done_ "$OUT/rt-teacher" || $B finetune --task classify --model "$D/minilm" $RT --out "$OUT/rt-teacher" --epochs 3 --quiet
      done_ "$OUT/wnut-teacher" || $B finetune --task ner --model "$D/minilm" $WNUT --out "$OUT/wnut-teacher" --epochs 10 --quiet ;;
    rt-kd3) rt_students kd3 layers:0,2,4 "--cache-teacher" 42 7 1 ;;
    rt-lab3) rt_students lab3 layers:0,2,4 "--alpha-kd 0 --alpha-hard 1" 42 7 1 ;;
    rt-kd2) rt_students kd2 layers:0,3 "--cache-teacher" 42 ;;
    rt-lab2) rt_students lab2 layers:0,3 "--alpha-kd 0 --alpha-hard 1" 42 ;;
    rt-pretrained)  # the student made of the *pretrained* MiniLM's layers 0,2,4 (not the fine-tuned teacher's)
      done_ "$OUT/minilm-024" || $B convert "$D/minilm" "$OUT/minilm-024" --to bert --layers 0,2,4
      rt_students kdP3 "$OUT/minilm-024" "--cache-teacher" 42 7 1
      rt_students labP3 "$OUT/minilm-024" "--alpha-kd 0 --alpha-hard 1" 42 7 1 ;;
    rt-augment) rt_students kdaug3 layers:0,2,4 "--augment 2 --epochs 1 --cache-teacher" 42 ;;
    ner)
      done_ "$OUT/wnut-kd3" || $B distill --teacher "$OUT/wnut-teacher" --student layers:0,2,4 $WNUT \
        --out "$OUT/wnut-kd3" --epochs 10 --cache-teacher --quiet
      done_ "$OUT/wnut-lab3" || $B distill --teacher "$OUT/wnut-teacher" --student layers:0,2,4 $WNUT \
        --out "$OUT/wnut-lab3" --epochs 10 --alpha-kd 0 --alpha-hard 1 --quiet ;;
    embed)
      done_ "$OUT/embed-035" || $B distill --task embed --teacher "$D/minilm" --student layers:0,3,5 \
        "$D/text/wiki.txt" "$D/text/pydoc.txt" "$D/text/kernel.txt" --holdout 2000 --limit 40000 \
        --cache-teacher --epochs 2 --lr 2e-4 --eval-every 250 --out "$OUT/embed-035" --quiet ;;
    *) echo "unknown part $part" >&2; exit 2 ;;
  esac
done
# the figures, one line per run
for f in "$OUT"/*/distillation.json; do
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); t=r.get('throughput',{});
print(sys.argv[1].split('/')[-2], json.dumps({k: r.get(k) for k in ('teacher_scores','student_scores','held_out','retained')}), 'speedup', t.get('speedup'))" "$f"
done
