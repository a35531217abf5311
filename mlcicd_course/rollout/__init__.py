"""Rollout strategies as pure state machines, and the controller that carries them out.

`bluegreen` decides, `analysis` judges metrics as Argo Rollouts does, `controller`
applies the decisions to a `shifter.TrafficShifter`, and `clock` provides the time.
"""
