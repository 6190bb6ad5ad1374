#!/bin/bash
# The device check, one short run on a CUDA machine: the gpu-marked tests, decoder training
# throughput on CUDA and on 2 CPU threads of the same machine, and the demo assess on CUDA.
# Run: benchmarks/gpu_check.sh [OUT_DIR]   (writes OUT_DIR/log and OUT_DIR/cuda_demo/)
cd "$(dirname "$0")/.." || exit 2
out=${1:-${OUT:-gpu-check}}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
{
nvidia-smi -L
python3 -c "import sys, torch, onnxruntime, numpy; print(sys.version.split()[0], torch.__version__, torch.cuda.get_device_name(0), onnxruntime.__version__, numpy.__version__)"
echo "== gpu tests"; timeout 240 python3 -m pytest -m gpu -v -p no:cacheprovider 2>&1 | tail -25
echo "== decoder benchmark, cuda"; timeout 150 python3 -m benchmarks.attacks --device cuda --budgets smoke,standard
echo "== decoder benchmark, cpu (2 threads, same machine)"; timeout 90 python3 -m benchmarks.attacks --device cpu --threads 2 --budgets smoke
echo "== demo assess on cuda, standard budget"; timeout 60 python3 -m privaudit assess --budget standard --device cuda -q -o "$out"/cuda_demo -f json,markdown; echo "rc=$?"
} 2>&1 | tee "$out"/log
