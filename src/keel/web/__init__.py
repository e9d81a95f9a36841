"""The HTTP faces beside serving: the management API (deploy, roll back, move aliases).

Like the CLI, they are thin: each endpoint checks the caller's token, then calls the same
registry and rollout functions the CLI calls, with the token's name as the actor.
"""
