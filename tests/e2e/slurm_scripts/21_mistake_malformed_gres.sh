#!/bin/bash
#SBATCH --job-name=typo
#SBATCH --gres=gpu:h100:two
echo never
