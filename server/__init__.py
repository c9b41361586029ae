"""The inference server: one model version, V1-style and Open Inference Protocol (V2) routes."""
