#!/usr/bin/env node
// Placeholder until the guest toolchain lands: builds nothing.
