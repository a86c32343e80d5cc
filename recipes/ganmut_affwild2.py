"""paper 002 (Surani; GANmut, d'Apolito et al. 2021) on Aff-Wild2 + AffectNet.

Placeholder until issue #8 lands: it says so and trains nothing.
"""
import sys

from tfgan_emotion.run import pending_recipe

if __name__ == "__main__":
    sys.exit(pending_recipe("ganmut_affwild2", "paper 002 (Surani; GANmut, d'Apolito et al. 2021) on Aff-Wild2 + AffectNet", 8))
