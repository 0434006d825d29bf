#!/bin/sh
# Stand-in for Prisma's native schema engine, which cannot be downloaded on these machines.
# `prisma generate` only needs it to exist; migrations are applied by src/migrate.ts instead.
exit 0
