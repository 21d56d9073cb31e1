#!/bin/bash
#SBATCH --job-name=ckpt
#SBATCH --chdir=work
#SBATCH --time=0:20
#SBATCH --signal=B:USR1@17
#SBATCH --gres=gpu:1
#SBATCH --open-mode=append
# the usual checkpoint pattern: trap the warning signal, save, and leave before the time limit
trap 'echo "got USR1 in $(basename "$(pwd)"): checkpoint saved"; exit 0' USR1
echo "working in $(basename "$(pwd)") for at most 20 s"
for i in $(seq 1 200); do sleep 0.1; done
echo "never warned"
