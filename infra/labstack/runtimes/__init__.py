"""Runtimes: reconcilers that make moto's state real (listeners that listen, tasks that run).

Each runtime is a folder like a service: its ``provider.py`` defines ``PROVIDER``, usually
an overlay that answers the operations whose answers depend on what really runs, and
starts the runtime's reconciler.
"""
