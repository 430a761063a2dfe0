"""The mock's configuration store: what PVE keeps in its configuration files beyond the guests, storages,
users and pools the realistic handlers model, organised the way PVE keeps it, and answered from the
schema for every operation without a realistic handler.

- :mod:`.data`: the state itself (section-config collections, singletons, positional lists), by place.
- :mod:`.layout`: what each operation of the tree does to it, worked out once from the schema.
- :mod:`.defaults`: what a fresh cluster already has (realms, a node's interfaces, DNS, hosts).
- :mod:`.parents`: the objects an operation lives under, asked of the cluster with PVE's texts.
- :mod:`.sections`, :mod:`.singletons`, :mod:`.rules`: the three kinds of configuration, on one
  :mod:`.act` (a call) each; :mod:`.texts` PVE's words for missing and duplicate items, :mod:`.values`
  what a write keeps and the digests.
- :mod:`.views`: reads computed from the store and the cluster together; :mod:`.firewall` the firewall's
  aliases, IP sets, groups, references and rule checks, as pve-firewall keeps them.
- :mod:`.workers`: the task PVE's handler forks; :mod:`.effects`: what some tasks leave behind.
- :mod:`.engine`: the operations, answered.
"""
