"""`hub keys init`: create the hub's key file (SM2 pair, SM4 data key, blind-index and token keys)."""

from __future__ import annotations

import argparse

from graph.ciphers.keyring import Keyring
from hub.commands.common import keys_path
from hub.settings import DEFAULT_KEYS


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("keys", help="the hub's keys")
    keys.add_argument("action", choices=["init", "show"], help="init: create the key file; show: print the public key")
    keys.add_argument("--keys", help=f"the key file (default {DEFAULT_KEYS}, or $HUB_KEYS)")
    keys.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    path = keys_path(arguments)
    if arguments.action == "init":
        keys = Keyring.generate()
        keys.save(path)
        print(f"created {path} (mode 600): SM2 key pair, SM4 data key, blind-index key, token key")
    else:
        keys = Keyring.load(path)
    print(f"SM2 public key (for `hub verify --public-key`): {keys.sm2_public}")
    return 0
