"""paper 003 (Fan, Liu, Wang), conditional DCGAN + inverse encoder on fer2013.

Placeholder until issue #6 lands: it says so and trains nothing.
"""
import sys

from tfgan_emotion.run import pending_recipe

if __name__ == "__main__":
    sys.exit(pending_recipe("dcgan_fer2013", "paper 003 (Fan, Liu, Wang), conditional DCGAN + inverse encoder on fer2013", 6))
