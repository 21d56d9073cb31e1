#!/usr/bin/env python3
#SBATCH --job-name=py-batch
#SBATCH --gres=gpu:1
#SBATCH --time=3
"""A batch script in Python: sbatch reads the #SBATCH lines of any interpreter's script."""
import os
import sys

print("python batch", os.environ["SLURM_JOB_ID"], "args", " ".join(sys.argv[1:]))
