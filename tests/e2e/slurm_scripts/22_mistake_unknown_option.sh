#!/bin/bash
#SBATCH --nodes=1
#SBATCH --gpus-per-nodes=4
echo never
