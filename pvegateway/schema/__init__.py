"""The PVE schema dialect: Perl-like types, formats, property strings, PVE's exact messages."""
