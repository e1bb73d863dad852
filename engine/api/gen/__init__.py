"""Generated protobuf/gRPC stubs for callengine.v1. Do not edit: run ``make proto``."""
