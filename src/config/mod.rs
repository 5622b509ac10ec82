//! Reading rule files into a typed, validated model.
