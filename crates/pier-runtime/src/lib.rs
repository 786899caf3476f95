//! pier-runtime
