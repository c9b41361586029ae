"""Metacontroller sync hooks for MLTrainingJob and MLDeployment."""
