-- Model outputs the detector dropped before NMS for this frame (non-finite or inverted boxes,
-- non-finite scores); schemas.records.FrameRecord.invalid_outputs.
ALTER TABLE linewatch.frames ADD COLUMN IF NOT EXISTS invalid_outputs UInt32 DEFAULT 0;
