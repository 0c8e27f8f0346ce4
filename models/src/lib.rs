//! Device inventory, behaviour baselines and detectors (issue: models). Placeholder until it lands.
