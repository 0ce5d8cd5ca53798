"""Every error, warning and message text fastlae shows a user, in one place.

Each template is formatted with keyword arguments by the code that raises it, and each is
exercised by a ``pytest.raises(match=...)`` test.
"""


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped at ``max_iter`` before its certificate reached ``tol``."""


class CollapseWarning(UserWarning):
    """An explicit ``lam`` collapsed some of the requested components (Landscape Theorem)."""


class RankWarning(UserWarning):
    """The data have fewer than k directions of non-zero variance (numerical rank below k)."""


X_MASKED = ("X is a masked array with {count} masked entries (the first at row {row}, column "
            "{col}); PCA needs every value: fill them (X.filled(value)) or drop those rows")
X_NOT_ARRAY = "X must be a 2-D array of real numbers; np.asarray(X) failed: {err}"
X_DTYPE = ("X must hold real numbers (bool, integer or floating point), got dtype {dtype}; "
           "complex, object and string arrays are not supported")
X_PATH = ("X is a path ({path!r}) to a file fastlae.pca does not read: it reads .npy files block "
          "by block; load other formats first (np.load, pandas.read_csv) or run the command "
          "line: fastlae pca {path} -k K -o out.npz")
X_NDIM = "X must be a 2-D array of shape (n_samples, n_features), got an array with ndim={ndim}"
X_EMPTY = "X must have at least one sample and one feature, got shape {shape}"
X_NONFINITE = "X contains {what}; fastlae needs finite values (remove or impute them first)"
X_OVERFLOW = ("X holds values so large (max |x| = {maxabs:.3g}) that their sum overflows float64; "
              "divide X by a constant first")
K_TYPE = "k must be an integer, got {value!r} of type {type}"
K_POSITIVE = "k={value!r} is out of range: the number of components must be at least 1"
K_RANGE = "k={value} is out of range: it must be in [1, min(n_samples, n_features)] = [1, {max}]"
SOLVER = "solver={value!r} is not one of {allowed}"
PRECISION = "precision={value!r} is not one of {allowed}"
TOL = "tol must be a finite number > 0, got {value!r}"
MAX_ITER = "max_iter must be a positive integer or None, got {value!r}"
LAM = "lam must be a finite number >= 0 or None, got {value!r}"
N_LATENT = ("n_latent={value!r} is out of range: it must be an integer in [k, min(n_samples, "
            "n_features)] = [{k}, {max}] or None")
N_THREADS = "n_threads must be a positive integer or None, got {value!r}"
RANDOM_STATE = ("random_state must be None, an integer >= 0, a numpy.random.Generator or a "
                "numpy.random.RandomState, got {value!r}")
NOT_CONVERGED = ("solver {solver!r} stopped after max_iter={max_iter} iterations with the largest "
                 "relative residual {res:.3g} above tol={tol:g}; the result is returned but not "
                 "certified: raise max_iter, loosen tol or use solver='eigh'")
NOT_CERTIFIED = ("solver {solver!r} returned a result whose largest relative residual "
                 "{res:.3g} (certificate {certificate!r}) is above tol={tol:g}: it is not "
                 "certified (converged=False); the rounding of the data or their Gram limits "
                 "it: loosen tol, or pass float64 data with precision='double'")
COLLAPSED = ("lam={lam:.6g} collapses {lost} of the k={k} requested components: their variance "
             "s_i^2 (eigenvalue of Xc.T @ Xc) is <= lam, and by the Landscape Theorem the trained "
             "autoencoder maps those directions to zero, so components {first}..{k} are not "
             "determined (an orthonormal completion is returned, their residuals show the error). "
             "Use a smaller lam, or lam=None to let fastlae choose one that keeps all k")
RANK_DEFICIENT = ("X has numerical rank {rank} < k={k}: components {first}..{k} have no variance "
                  "above the rounding level of the Gram matrix (their eigenvalues of Xc.T @ Xc "
                  "are <= min(n_samples, n_features) * eps * trace = {floor:.3g}); they are an "
                  "orthonormal completion of the first {rank}, orthogonal to them and otherwise "
                  "arbitrary")
RANK_ZERO = ("X has no variance above the rounding level of the Gram matrix (every sample equals "
             "the mean, up to rounding): the k={k} components are an arbitrary orthonormal basis")
MLE_WIDE = ("n_components='mle' is only supported if n_samples >= n_features (Minka's "
            "criterion), got {n} samples and {d} features")
MLE_RANK = "the tested rank should be in [1, n_features - 1] = [1, {d}), got {rank}"
PARTIAL_ZERO = "partial_fit needs n_components >= 1 (n_components=0 fits no components)"
SK_CHOICE = "{name}={value!r} is not one of {allowed}"
SK_ITERATED_POWER = "iterated_power must be 'auto' or an integer >= 0, got {value!r}"
SK_OVERSAMPLES = "n_oversamples must be an integer >= 1, got {value!r}"
SK_BOOL = "{name} must be True or False, got {value!r}"
SK_TOL = "tol must be a finite number >= 0 (0 means fastlae's default, 1e-10), got {value!r}"
N_COMPONENTS = ("n_components={value!r} must be between {low} and min(n_samples, n_features)="
                "{max} with svd_solver={svd_solver!r}; use an integer in that range, a float in "
                "(0, 1), 'mle' or None")
THEORY_KIND = "kind={value!r} is not one of {allowed}"
THEORY_INDEX = ("index={index} is not a strictly increasing set of at most k={k} principal "
                "directions in [0, {d})")
THEORY_CURVATURE_SUM = ("the sum loss's curvature counts depend on how many eigenvalues lie above "
                        "lam: pass the spectrum (eigenvalues of X.T @ X) instead of d, and lam")
THEORY_COLLAPSED = ("lam={lam:g} is not below every s_i^2 in index={index}: for the sum loss those "
                    "directions collapse and have no critical point (Landscape Theorem)")
TRAIN_CHOICE = "{name}={value!r} is not one of {allowed}"
TRAIN_K = "k={value!r} is out of range: the latent width must be an integer in [1, n_features] = [1, {max}]"
TRAIN_NON_UNIFORM = "reg='non_uniform' needs loss='sum', got loss={loss!r}"
TRAIN_RATE = "{name} must be a finite number >= 0 (lr > 0), got {value!r}"
TRAIN_INT = "{name} must be a positive integer, got {value!r}"
NO_MATPLOTLIB = ("this needs matplotlib, which is not installed: pip install matplotlib "
                 "(from a checkout, pip install -e '.[paper]' installs it too)")
NO_SKLEARN = ("fastlae.PCA needs scikit-learn, which is not installed: pip install scikit-learn "
              "(from a checkout, pip install -e '.[sklearn]' installs it too); fastlae.pca "
              "works without it")
INPUT_FILE = "cannot read {path!r}: {err}"
FILE_SHORT = "the file is shorter than its header says"
INPUT_FORMAT = ("cannot read {path!r}: unsupported file type {suffix!r}; use .npy, .npz, .csv, "
                ".tsv, or - for stdin")
INPUT_ROW = ("cannot read {path!r}: line {row} has {got} fields, the first row has {want}; "
             "every row needs one value per column")
INPUT_FIELD = ("cannot read {path!r}: line {line}, column {column}: {value!r} is not a number; "
               "fix or remove that value (a first column of labels is left out by itself, or "
               "with --index)")
INPUT_ENCODING = ("cannot read {path!r}: it is not UTF-8 text ({err}); save it as UTF-8 (or "
                  "UTF-16 with its byte-order mark)")
INPUT_HEADER_AMBIGUOUS = ("cannot read {path!r}: its first row ({row}, ...) counts evenly like "
                          "column names (years, wavelengths, ids) but the data are integers "
                          "too, so it may be either: pass --header if it names the columns, "
                          "--no-header if it is data")
INPUT_INDEX_AMBIGUOUS = ("cannot read {path!r}: its first column ({column!r}: {values}, ...) "
                         "counts up like row ids or pandas' index, so it may be row labels or a "
                         "feature: pass --index to leave it out as row labels, --no-index to "
                         "keep it as a feature")
INPUT_TOO_LARGE = ("cannot read {path!r}: its header describes an array of shape {shape} "
                   "({gib:.3g} GiB) but the {what} holds {have} bytes")
STDIN_CLOSED = "cannot read - (stdin): standard input is closed"
OUTPUT_FORMAT = ("cannot write {option} {path!r}: unsupported file type {suffix!r}; use .npz, "
                 ".npy, .csv or .tsv")
OUTPUT_DIR = "cannot write {option} {path!r}: the directory {directory!r} does not exist"
OUTPUT_DENIED = "cannot write {option} {path!r}: the directory {directory!r} is not writable"
OUTPUT_READONLY = "cannot write {option} {path!r}: the file exists and is not writable"
OUTPUT_IS_INPUT = ("cannot write {option} {path!r}: it is the input file; choose another "
                   "name (nothing was written)")
OUTPUT_TWICE = ("cannot write {option} {path!r}: {other} names the same file; give each "
                "output its own name (nothing was written)")
OUTPUT_IS_DIR = "cannot write {option} {path!r}: it is a directory; give a file name in it"
COMPILING = ("fastlae: compiling kernels for this machine, once: 5-10 s (fastlae warmup does it "
             "ahead of time)")
BLOCK_NOT_ARRAY = "block {index} of the stream is not a 2-D array: np.asarray failed: {err}"
BLOCK_DTYPE = ("block {index} of the stream has dtype {dtype}; blocks must hold real numbers "
               "(bool, integer or floating point)")
BLOCK_NDIM = ("block {index} of the stream has shape {shape}; every block must be 2-D (rows, "
              "n_features): reshape a single row with row[None, :]")
BLOCK_WIDTH = ("block {index} of the stream has {got} columns, the blocks before it {d}: every "
               "block must hold the same features")
BLOCK_MIX = ("block {index} of the stream has dtype {dtype}, the blocks before it {first}: give "
             "every block the same dtype (e.g. block.astype(np.float64))")
BLOCK_NONFINITE = ("block {index} of the stream contains {what}; fastlae needs finite values "
                   "(remove or impute them first)")
SPARSE_MEAN = ("column {j} of the sparse X has a mean ({mean:.6g}) so large against its spread "
               "(standard deviation {std:.3g}) that centering it implicitly would cancel about "
               "{digits} digits: shift that column first, or pass X.toarray() (the dense path "
               "centers around a shift)")
DASK_CHUNK_ROWS = ("chunk {index} of the dask array has {got} rows where the array has {n}: its "
                   "graph must give the shapes its chunks declare")
DASK_UNKNOWN = ("the dask array has unknown chunk sizes (shape {shape}); call "
                "X.compute_chunk_sizes() first")
STREAM_WIDE = ("the stream has {d} features, too many for a formed {d} x {d} Gram (fastlae forms "
               "it up to {max} features), and it can be read only once: pass a callable that "
               "returns the blocks again (pca(lambda: read_blocks(), k)), a .npy path or a "
               "memory map, and fastlae solves by passes over the data")
STREAM_EMPTY = "the stream yielded no rows: X needs at least one sample"
NPZ_KEYS = ("{path!r} holds several arrays {keys}; fastlae reads the one named 'X' or a file "
            "with a single array")
SOURCE_CHANGED = ("the data changed while fastlae read them: pass {index} over the {name} read "
                  "{detail}. A source read more than once (a callable, a .npy file, a memory "
                  "map, a dask array) must give the same rows at every pass; copy the data "
                  "first, or pass an iterable (read once: certified against its Gram only)")
SOURCE_ROWS = "{rows} rows where the first pass read {first}"
SOURCE_VALUES = ("other values (feature {j}: weighted sums {got:.17g} against {first:.17g}, "
                 "beyond their rounding of {tol:.3g})")
FILE_CHANGED = ("the file {path!r} changed while fastlae read it (its size or modification "
                "time differs from the start of the call); the result would fit neither "
                "version: run again on a copy that no one writes to")
NO_MEMORY = ("not enough memory ({err}); use a smaller input, or a .npy file, which is read "
             "block by block")
TRANSFORM_WIDTH = ("cannot project {path!r}: it has {got} features, the components in "
                   "{components!r} have {want}")
COMPONENTS_FILE = ("cannot read the components {path!r}: {err}; give the .npz, .csv or .tsv "
                   "file that fastlae pca -o wrote")
TRANSFORM_SHAPE = "expected a 2-D array with {d} columns, got shape {shape}"
OUTPUT_WRITE = "cannot write {path!r}: {err}"
NPY_COMPONENTS_ONLY = ("{path!r} holds the components only (a .npy file holds one array): the "
                       "mean and the explained variance are not saved, and fastlae transform "
                       "needs the mean; write .npz or .csv to keep them")
