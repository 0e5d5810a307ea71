/* mpi_comm.c -- nr_search_comm on MPI_COMM_WORLD (see mpi_comm.h); the only
 * file that includes <mpi.h>, and a stub when built without MPI. */
#include "mpi_comm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef NUMREP_HAVE_MPI
#include <mpi.h>
#endif

int gen_mpi_comm_launched(void)
{
    /* Open MPI, MPICH / Hydra, and PMIx launchers set one of these */
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

static void alone(nr_search_comm *comm)
{
    memset(comm, 0, sizeof *comm);
    comm->size = 1;
}

#ifdef NUMREP_HAVE_MPI

static int mpi_fail(int code, const char *what, nr_err *err)
{
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(code, msg, &len);
    return nr_err_set(err, NR_EIO, NULL, 0, 0, "mpi", "%s failed: %s", what, msg);
}

static int mpi_allreduce(void *ctx, int64_t *v, int n, nr_search_op op, nr_err *err)
{
    (void)ctx;
    int rc = MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_INT64_T, op == NR_SEARCH_MAX ? MPI_MAX : MPI_SUM,
                           MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(rc, "MPI_Allreduce", err);
}

static int mpi_bcast(void *ctx, void *buf, size_t size, nr_err *err)
{
    (void)ctx;
    /* the search sends rows and flags of a few kilobytes; MPI counts are int */
    if (size > (size_t)1 << 30)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "mpi", "a broadcast of %zu bytes: at "
                          "most 1 GiB", size);
    int rc = MPI_Bcast(buf, (int)size, MPI_BYTE, 0, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(rc, "MPI_Bcast", err);
}

int gen_mpi_comm_start(nr_search_comm *comm, nr_err *err)
{
    alone(comm);
    if (!gen_mpi_comm_launched())
        return 0;
    int started = 0;
    MPI_Initialized(&started);
    if (!started) {
        /* only the main thread calls MPI; the search's worker threads do not */
        int provided = 0;
        int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS)
            return mpi_fail(rc, "MPI_Init_thread", err);
    }
    /* report failures as errors (the search then says which rank failed)
     * instead of MPI's default of aborting the job */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &comm->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &comm->size);
    comm->ctx = comm; /* non-NULL: MPI was started here */
    comm->allreduce = mpi_allreduce;
    comm->bcast = mpi_bcast;
    return 0;
}

void gen_mpi_comm_finish(nr_search_comm *comm)
{
    int done = 0;
    if (comm->ctx) {
        MPI_Finalized(&done);
        if (!done)
            MPI_Finalize();
    }
    alone(comm);
}

#else /* no MPI at build time */

int gen_mpi_comm_start(nr_search_comm *comm, nr_err *err)
{
    alone(comm);
    if (gen_mpi_comm_launched())
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, "mpirun",
                          "this numrep was built without MPI, so under mpirun every rank "
                          "would run the whole search alone; rebuild with Open MPI "
                          "(libopenmpi-dev) installed, or run it without mpirun");
    return 0;
}

void gen_mpi_comm_finish(nr_search_comm *comm)
{
    alone(comm);
}

#endif

int gen_mpi_comm_agree(const nr_search_comm *comm, int failed, nr_err *err)
{
    int64_t v = failed ? comm->size - comm->rank : 0; /* max: the lowest failed rank */
    if (comm->size > 1 && comm->allreduce) {
        int rc = comm->allreduce(comm->ctx, &v, 1, NR_SEARCH_MAX, err);
        if (rc)
            return rc;
    }
    if (!v)
        return 0;
    return nr_err_set(err, NR_EIO, NULL, 0, 0, "mpi", "process rank %lld of %d failed",
                      (long long)(comm->size - v), comm->size);
}
