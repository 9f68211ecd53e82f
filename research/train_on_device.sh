#!/usr/bin/env bash
# Train model variants side by side on one GPU for a fixed time, check each with
# audio_following.py, and time generation there (bench_device.py). Written for a lent
# H100 with 15 minutes in all (see README: default model); run from the repository root:
#
#     OUT=out/device MINUTES=7 bash research/train_on_device.sh VARIANT ...
#
# VARIANT is name=extra-model-config-json[=extra train flags], e.g.
#     act='{"activity_conditioning": true}'=--time-warp\ 1.5
# Needs runs/bandai_pack_f16.npz (`ohgesture prepare --float16`; PACK= another, e.g. one made
# with `--pairings 3`, 39 MB as float16, within a device run's 64 MiB) and, for the speed table,
# runs/speech_feats.npy (audio features of a speech clip, numpy.save). Writes under $OUT:
# NAME.safetensors (inference weights), log.txt (summary) and train_logs.txt.
set -u
OUT=${OUT:-out/device}
MINUTES=${MINUTES:-7}
PACK=${PACK:-runs/bandai_pack_f16.npz}
mkdir -p "$OUT" /tmp/ohgesture_pkg
ln -sfn "$PWD" /tmp/ohgesture_pkg/ohgesture  # the repository root is the package
export PYTHONPATH=/tmp/ohgesture_pkg PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
PY=${PY:-python3}
DEVICE=${DEVICE:-cuda}
BASE='{"latent": 128, "layers": 3, "heads": 4, "ff": 512, "window": 90, "n_seed": 10, "local_window": 15}'
log="$OUT/log.txt"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader >"$log" 2>&1
names=()
for spec in "$@"; do
    name=${spec%%=*}; rest=${spec#*=}; extra=${rest%%=*}; flags=""
    [[ "$rest" == *=* ]] && flags=${rest#*=}
    config=$($PY -c "import json,sys; print(json.dumps({**json.loads(sys.argv[1]), **json.loads(sys.argv[2])}))" "$BASE" "$extra")
    names+=("$name")
    # shellcheck disable=SC2086  # flags are words on purpose
    $PY -m ohgesture.core.cli.main train --data "$PACK" --format pack --out "/tmp/${name}_train.safetensors" \
        --device "$DEVICE" --steps 1000000 --max-minutes "$MINUTES" --batch 128 --lr 5e-4 --quiet \
        --checkpoint-every 2000 --eval-every 2000 --metadata core/weights/model_card.json \
        --model-config "$config" $flags >"/tmp/${name}.log" 2>&1 &
done
wait
for name in "${names[@]}"; do
    { echo "== $name"; grep -v "steps/s" "/tmp/${name}.log" | tail -n 8; grep "steps/s" "/tmp/${name}.log" | tail -n 1; } >>"$log"
    { echo "== $name"; cat "/tmp/${name}.log"; } >>"$OUT/train_logs.txt"
    $PY -m ohgesture.core.cli.main export "/tmp/${name}_train.safetensors" --out "$OUT/${name}.safetensors" --overwrite >>"$log" 2>&1
done
models=()
for name in "${names[@]}"; do models+=("$OUT/${name}.safetensors"); done
$PY research/audio_following.py "${models[@]}" --data "$PACK" --device "$DEVICE" --windows 64 >>"$log" 2>&1
if [ -f runs/speech_feats.npy ] && [ "$DEVICE" = cuda ]; then
    $PY benchmarks/bench_device.py --device cuda --model "$OUT/${names[0]}.safetensors" --features runs/speech_feats.npy \
        --seconds 60 --settings dpmpp_2m:20,ddim:25 >>"$log" 2>&1
    $PY benchmarks/bench_device.py --device cuda --model "$OUT/${names[0]}.safetensors" --features runs/speech_feats.npy \
        --seconds 10 --settings ddpm:1000 >>"$log" 2>&1
fi
cat "$log"
