// Pipeline: pipeline files, the stage graph and delivery guarantees.
