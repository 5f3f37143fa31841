/* What label.c and label_alloc.c share. */
#pragma once

#include "berth/error.h"
#include "linux/label.h"

#include <stdbool.h>
#include <stddef.h>

#define N_CATEGORIES (LABEL_MAX_CATEGORY + 1)

static inline bool label_empty(const char *s)
{
    return !s || !*s;
}

/* Hand a local error to the caller's slot (the first cause wins, as berth_error_set keeps). */
int label_pass_error(struct berth_error **err, struct berth_error *local, int r);
/* A policy identifier (user, role, type): a letter or _, then letters, digits, _ . - */
bool label_valid_identifier(const char *s, size_t len);
