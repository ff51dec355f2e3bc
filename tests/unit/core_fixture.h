/*
 * A supervisor assembled by hand through the core's seams for unit tests:
 * a real config file in a temp dir, the memory queue, the job engine and
 * the pools (not started), on a loop of its own. Time stands still: a test
 * fires a timer with fixture_fire() instead of waiting for it.
 */
#ifndef MPSUP_CORE_FIXTURE_H
#define MPSUP_CORE_FIXTURE_H

#include <ev.h>

#include "supervisor/supervisor.h"

extern struct supervisor	fx;

/* Write "[supervisor]...\n" + pools_ini to a config file and load it. */
void	fixture_start(const char *pools_ini);
void	fixture_stop(void);
/* Seconds until timer t fires (it must be armed). */
double	fixture_remaining(ev_timer *t);
/* Fire an armed timer now, as the loop would when it came due. */
void	fixture_fire(ev_timer *t);

#endif
