-- A plant's own lab sets (`linewatch lab import`; streams/sinks/lab_sets.py), content-addressed.
-- lab_images: each distinct image once, image_id = sha256 (hex) of its encoded bytes.
-- lab_set_images: the images of one set version (set_digest = sha256 over its images, boxes and
--   lighting; streams.lab.importer.lab_set_digest) with their ground-truth boxes in the image's
--   pixels (parallel arrays, one element per box) and optional lighting.
-- lab_sets: a named version of a set. Its row is written last, so a set is visible only once all
--   its images and boxes are stored; re-importing the same name and digest writes nothing.
CREATE TABLE IF NOT EXISTS linewatch.lab_images
(
    image_id  String,
    encoding  LowCardinality(String),
    width     UInt32,
    height    UInt32,
    data      String
)
ENGINE = ReplacingMergeTree
ORDER BY image_id;

CREATE TABLE IF NOT EXISTS linewatch.lab_set_images
(
    set_digest     String,
    image_id       String,
    file_name      String,
    lux            Nullable(Float64),
    colour_temp_k  Nullable(Float64),
    box_class      Array(String),
    box_x1         Array(Float64),
    box_y1         Array(Float64),
    box_x2         Array(Float64),
    box_y2         Array(Float64)
)
ENGINE = ReplacingMergeTree
ORDER BY (set_digest, image_id);

CREATE TABLE IF NOT EXISTS linewatch.lab_sets
(
    name           String,
    set_digest     String,
    source_format  LowCardinality(String),
    source_path    String,
    classes        Array(String),
    novel_classes  Array(String),
    images         UInt32,
    boxes          UInt32,
    imported_at    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(imported_at)
ORDER BY (name, set_digest);
