"""paper 001 (Lindt et al. 2019), CAAE continuous valence/arousal editing on AffectNet.

Placeholder until issue #4 lands: it says so and trains nothing.
"""
import sys

from tfgan_emotion.run import pending_recipe

if __name__ == "__main__":
    sys.exit(pending_recipe("caae_affectnet", "paper 001 (Lindt et al. 2019), CAAE continuous valence/arousal editing on AffectNet", 4))
