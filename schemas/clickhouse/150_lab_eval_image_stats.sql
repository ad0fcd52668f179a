-- Image statistics of every lab frame as the model saw it (after its condition's corruption),
-- computed by the assess suite with streams.features.compute_image_stats, the same function
-- production frames go through (frames.brightness ... frames.clipped_low). The label-free
-- estimator re-weights the lab frames by how a production window's statistics differ from
-- theirs (docs/estimation.md). NULL on rows of assessments run before this column existed.
ALTER TABLE linewatch.lab_eval
    ADD COLUMN IF NOT EXISTS brightness Nullable(Float32) CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS contrast Nullable(Float32) CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS sharpness Nullable(Float32) CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS colour_cast Nullable(Float32) CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS est_colour_temp_k Nullable(Float32) CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS clipped_high Nullable(Float32) CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS clipped_low Nullable(Float32) CODEC(ZSTD(1));
