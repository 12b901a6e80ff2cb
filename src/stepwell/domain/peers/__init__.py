"""The peer programme as plain data and pure functions (PRODUCT.md §3.6, docs/peer-programme.md).

- ``vocabulary``: controlled vocabularies of ``content/peers/vocabulary.yaml`` (lived-experience
  tags, languages, modalities, availability slots, encounter topics, mood scale, …);
- ``curriculum``: training curricula (``content/curricula/*.yaml``), completions and the
  certification status they add up to (for peers and clinicians alike);
- ``programme``: the programme rules (``content/peers/programme.yaml``): lifecycle, capacity,
  supervision, and the sentence for every reason code;
- ``lifecycle``: moving a peer between lifecycle states;
- ``eligibility``: whether a peer may take a new match, as reasons;
- ``profile``: checks on a peer's profile and on a recorded peer encounter;
- ``content``: all of the above parsed and cross-checked together.

No Django, no I/O, no clock: the caller parses the YAML and passes ``now``.
"""
