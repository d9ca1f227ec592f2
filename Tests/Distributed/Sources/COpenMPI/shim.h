// Open MPI's handles are macros over global objects, which Swift cannot import: these
// functions return them.
#ifndef HPM_OPEN_MPI_SHIM_H
#define HPM_OPEN_MPI_SHIM_H
#include <mpi.h>

static inline MPI_Comm hpm_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype hpm_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype hpm_mpi_uint64(void) { return MPI_UINT64_T; }
static inline MPI_Datatype hpm_mpi_int(void) { return MPI_INT; }
static inline MPI_Op hpm_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op hpm_mpi_max(void) { return MPI_MAX; }
static inline int hpm_mpi_success(void) { return MPI_SUCCESS; }
#endif
