// Pipeline: pipeline files, the stage graph and delivery guarantees.
//
// Config/      the pipeline-file model and its loader:
//              `PipelineFile.load(path:environment:)` → `PipelineConfig` (typed, defaults
//              applied, stage ids/inputs resolved, `StageGraph` checked), or a
//              `PipelineFileError` holding every `PipelineDiagnostic` with its position.
//              `PipelineSchema` is the JSON Schema, built from the same field specs.
// Expression/  the expression language: `EventExpression.parse` once, then
//              `evaluate(on:)` / `isSatisfied(by:)` per event through the `EventView`
//              protocol; `EventTemplate` for topic templates; `EventValue` for values.
