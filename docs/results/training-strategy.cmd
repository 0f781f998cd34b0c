mstar run experiments/training_strategy.yaml sft.time_limit_minutes=4 sft_grpo.time_limit_minutes=4 -j 1
