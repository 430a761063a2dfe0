"""The wire: parameter gathering, dispatch, envelopes and server glue."""
