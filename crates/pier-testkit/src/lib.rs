//! pier-testkit
