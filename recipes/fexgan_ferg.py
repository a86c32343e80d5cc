"""paper 004 (Siddiqui 2022), FExGAN on FERG-DB.

Placeholder until issue #5 lands: it says so and trains nothing.
"""
import sys

from tfgan_emotion.run import pending_recipe

if __name__ == "__main__":
    sys.exit(pending_recipe("fexgan_ferg", "paper 004 (Siddiqui 2022), FExGAN on FERG-DB", 5))
