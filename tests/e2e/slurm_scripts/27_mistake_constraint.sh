#!/bin/bash
#SBATCH -C a100
#SBATCH --gres=gpu:1
echo never
