#!/bin/bash
#SBATCH --job-name=split
#SBATCH --output=out-%j.txt
#SBATCH --error=err-%j.txt
#SBATCH --gres=gpu:1
#SBATCH --time=1:00
echo "to stdout"
echo "to stderr" >&2
exit 3
