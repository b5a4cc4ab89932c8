"""Cryptography: tokens and their hashes now; envelope encryption of stored text comes with its issue."""
