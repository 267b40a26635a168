//! (in progress: owned by the validation helper)
