#!/bin/bash
#sbatch --time=90
  #SBATCH --job-name=indented
# SBATCH --gres=gpu:4
##SBATCH --nodes=8
#SBATCH --time=3
echo ok
