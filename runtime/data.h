/* data: training samples in memory, from IDX or CSV files (docs/data.md).
 *
 * In: a DataSpec (config.h) and what the model expects per sample (feature
 * count, class count or target width).  Out: a Dataset whose x and y rows can
 * be copied straight into the compiled graph's input buffers: x holds nfeat
 * floats per sample (already multiplied by the spec's scale), or, for IDX
 * files of unsigned bytes, xb holds the bytes themselves and byte_value the
 * float each byte stands for (a quarter of the memory: Fashion-MNIST's
 * training images are 47 MB as bytes, 188 MB as floats), y holds ntarget
 * floats per sample, and class targets are stored one-hot in y (the IR takes
 * them as [B, k] one-hot inputs) with the integer class also in labels.
 *
 * Loading never crashes on a bad file: every problem comes back as a false
 * return and a message "FILE: reason" (or "FILE:LINE:COL: reason" for CSV)
 * in the caller's err buffer, and the Dataset is left empty.
 */
#ifndef NNC_DATA_H
#define NNC_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ckpt.h"
#include "config.h"

/* Where one input's or target's values sit in a sample: a slice of the x
 * row (inputs) or of the y row (targets).  Several inputs lie side by side
 * in x, in the model's order, and several targets in y. */
typedef struct {
  const char *name;   /* the input or target it feeds */
  bool target;        /* a slice of y, else of x */
  int offset;         /* its first float in the row */
  int width;          /* floats per sample (k for a class(k) target: one-hot) */
  int nclasses;       /* > 0: class labels 0..k-1, one-hot in y */
} DataColumn;

typedef struct {
  char *source;     /* file the features came from (heap), for messages */
  int n;            /* number of samples */
  int nfeat;        /* floats per sample in x */
  int ntarget;      /* floats per sample in y (nclasses for class targets); 0: features only */
  int nclasses;     /* > 0: class targets, labels is set; 0: real-valued targets */
  float *x;         /* n * nfeat features, row-major; NULL when xb holds them */
  uint8_t *xb;      /* n * nfeat byte features (unsigned-byte IDX), or NULL */
  float byte_value[256];   /* with xb: byte b stands for byte_value[b] (scale applied) */
  float byte_divisor;      /* > 0: byte_value[b] == (float)b / byte_divisor for every b (byterow.h) */
  float *y;         /* n * ntarget targets (one-hot rows for classes), NULL when features only */
  int *labels;      /* n class indices in 0..nclasses-1, or NULL for real targets */
  DataColumn *cols; /* the slices of x and y by name (heap), from a source that names them; else NULL */
  int ncols;        /* how many */
} Dataset;

/* Loads every sample of spec (unsigned-byte IDX images as bytes: xb).  nclasses > 0: targets are class labels
 * 0..nclasses-1, y is one-hot of width nclasses and ntarget is not used;
 * nclasses == 0: ntarget real values per sample; both 0: the features alone
 * (a model without a target, such as an autoencoder), read as
 * data_load_features reads an unlabelled file.  On failure returns false,
 * writes "FILE: reason" to err and leaves *out zeroed. */
bool data_load(const DataSpec *spec, int nfeat, int nclasses, int ntarget, Dataset *out,
               char *err, size_t errlen);
/* Same, reading at most max_samples (> 0) samples from the start of the file;
 * the rest of the file is not read (checks on it are not made either). */
bool data_load_first(const DataSpec *spec, int nfeat, int nclasses, int ntarget, int max_samples,
                     Dataset *out, char *err, size_t errlen);
/* The features alone, for prediction (data that may have no targets): the
 * Dataset has ntarget 0 and y and labels NULL.  IDX: the images file only
 * (spec->images, or the prefix's images file); no labels file is opened.
 * CSV: rows of nfeat numbers, or of nfeat + label_cols in a labelled file,
 * whose target columns (placed as spec->target_first says) are skipped; the
 * first data row decides which.  A first row whose fields are not numbers
 * is a header and skipped, whatever spec->header says, so files with and
 * without column names both read. */
bool data_load_features(const DataSpec *spec, int nfeat, int label_cols, Dataset *out, char *err,
                        size_t errlen);
/* Loads a source whose arguments name what feeds each input and target
 * (spec->binds: an IDX file or CSV columns for each), for a model whose
 * values cols lists (inputs then targets, offsets into the x and y rows).
 * features_only: the inputs alone (prediction data).  The Dataset keeps a
 * copy of cols; with a single class target nclasses and labels are set as
 * data_load sets them.  Failures as data_load's. */
bool data_load_columns(const DataSpec *spec, const DataColumn *cols, int ncols, bool features_only, int max_samples,
                       Dataset *out, char *err, size_t errlen);
/* The column of d that feeds name, or NULL. */
const DataColumn *data_column(const Dataset *d, const char *name);
/* Copies column c of samples idx[0..n) into buf (n * c->width floats). */
void data_gather_column(const Dataset *d, const DataColumn *c, const int *idx, int n, float *buf);
/* How many samples data_load_first(spec, ..., max_samples) will give, known
 * from a file's header without reading its samples (an IDX pair named by
 * path or images/labels); -1 where it cannot tell cheaply (CSV, columns) or
 * the files are bad (the load then says why).  Lets the compiler start on
 * graphs sized by the data while the data loads. */
int data_count(const DataSpec *spec, int max_samples);
void data_free(Dataset *d);   /* releases the buffers; zeroes *d */
/* Features as floats in x (converting xb, which is freed); no-op for floats. */
void data_expand(Dataset *d);

/* Per-feature standardization.  Fit on the training set, apply the same
 * numbers to the training, validation and test sets. */
typedef struct {
  int nfeat;        /* features per sample */
  float *mean;      /* nfeat means (heap) */
  float *std;       /* nfeat population standard deviations (heap); 0 = constant feature */
} DataNorm;

void data_norm_fit(const Dataset *d, DataNorm *norm);          /* d must have n >= 1 */
/* The checkpoint tensors ([nfeat] each) in which nnc train saves the
 * statistics of a standardized model, so eval, predict and compile need not
 * read the training data again. */
#define DATA_NORM_MEAN_TENSOR "standardize:mean"
#define DATA_NORM_STD_TENSOR "standardize:std"
/* Fills *norm from a checkpoint's statistics; false (norm empty) when it has
 * none of nfeat values, as checkpoints written before they were saved. */
bool data_norm_from_ckpt(const Checkpoint *c, int nfeat, DataNorm *norm);
/* x = (x - mean) / std per feature; a feature with std 0 is only centered.
 * Byte features are expanded to floats first. */
void data_norm_apply(const DataNorm *norm, Dataset *d);
void data_norm_free(DataNorm *norm);

/* Moves round(fraction * n) samples, chosen by a shuffle seeded with seed,
 * from d into *val; d keeps the rest.  Both keep the samples' original order.
 * Fails (with "FILE: reason") if either part would be empty. */
bool data_split(Dataset *d, double fraction, uint64_t seed, Dataset *val, char *err,
                size_t errlen);
/* How many of n samples data_split moves for fraction. */
int data_split_count(int n, double fraction);

/* Copies samples idx[0..n) into contiguous batch buffers: x gets n * nfeat
 * floats (byte features converted through byte_value), y gets n * ntarget (either may be NULL to skip it; y is left alone
 * for a features-only Dataset). */
void data_gather(const Dataset *d, const int *idx, int n, float *x, float *y);
/* Asks for the cache lines of samples idx[0..n) (features and targets), for
 * a gather soon after. */
void data_prefetch(const Dataset *d, const int *idx, int n);

#endif
