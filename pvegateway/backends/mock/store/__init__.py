"""The mock's configuration store: what PVE keeps in its configuration files beyond the guests, storages,
users and pools the realistic handlers model, organised the way PVE keeps it, and answered from the
schema for every operation without a realistic handler.

- :mod:`.data`: the state itself (section-config collections, singletons, positional lists), by place.
- :mod:`.layout`: what each operation of the tree does to it, worked out once from the schema.
- :mod:`.parents`: the objects an operation lives under, asked of the cluster with PVE's texts.
- :mod:`.texts`: PVE's texts for missing and duplicate ids, per area.
- :mod:`.workers`: the task type and id PVE's handler gives its worker.
- :mod:`.engine`: the operations, answered.
"""
