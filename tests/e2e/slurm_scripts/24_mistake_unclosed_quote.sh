#!/bin/bash
#SBATCH --job-name="my run
#SBATCH --gres=gpu:1
echo never
