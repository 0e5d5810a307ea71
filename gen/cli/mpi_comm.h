/* mpi_comm.h -- `numrep search` over MPI ranks: the collective operations of
 * nr_search_comm (runtime/study/search.h) on MPI_COMM_WORLD.  mpi_comm.c is the
 * only file that includes <mpi.h> (this header is not named mpi.h: gen/ is
 * on the include path and would hide the real one); without MPI at build
 * time (no NUMREP_HAVE_MPI) it is a stub that always runs alone.
 *
 * MPI is started only when the process was launched by mpirun/mpiexec (the
 * launcher's environment says so): a plain `numrep search` never touches
 * MPI, so it behaves exactly as before. */
#ifndef NUMREP_MPI_COMM_H
#define NUMREP_MPI_COMM_H

#include "search.h"

/* 1 when the environment says this process is one of several launched by
 * mpirun / mpiexec (Open MPI, MPICH, PMIx), else 0. */
int gen_mpi_comm_launched(void);

/* Start MPI when launched by mpirun and fill *comm (rank, size, the
 * operations); otherwise *comm is rank 0 of 1 and nothing is started.
 * Errors: NR_EUNSUP when launched by mpirun but built without MPI (each
 * rank would run the whole search on its own), NR_EIO when MPI fails to
 * start. */
int gen_mpi_comm_start(nr_search_comm *comm, nr_err *err);

/* Wait for every rank (a barrier that also says whether any rank failed):
 * returns 0, or -NR_EIO naming the lowest failed rank when `failed` was
 * nonzero on some rank.  Alone: returns 0 (or -NR_EIO when failed). */
int gen_mpi_comm_agree(const nr_search_comm *comm, int failed, nr_err *err);

/* Finish MPI if gen_mpi_comm_start started it. */
void gen_mpi_comm_finish(nr_search_comm *comm);

#endif
