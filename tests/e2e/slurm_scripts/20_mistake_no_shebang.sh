echo "no interpreter line"
#SBATCH --time=5
