/*
 * modelfile.h - FarSight model files (*.fsm): a trained RetNet plus the tokenizer
 * configuration it was trained with (internal; format in modelfile.c and
 * docs/MODEL.md).
 */
#ifndef FS_MODELFILE_H
#define FS_MODELFILE_H

#include "model/retnet.h"
#include "model/tokenizer.h"

#define FS_MODEL_VERSION 1u
#define FS_MODEL_DEFAULT_PATH "models/default.fsm"
/* Where the default model is: models/default.fsm next to the code that runs (the
 * farsight binary or the preload library: the build tree), in the install prefix's
 * share/farsight, or else in the working directory.  The first that exists; if none
 * does, the install location (or FS_MODEL_DEFAULT_PATH), for the message. */
const char *fs_model_default_path(void);

typedef struct fs_model {
	fs_retnet *net;
	fs_tok_config tok;
	char note[256]; /* how it was made (the train command line), NUL-terminated */
} fs_model;

/* Write net + tok to path (atomically: a temporary file renamed into place). */
int fs_model_save(const char *path, const fs_retnet *net, const fs_tok_config *tok,
		  const char *note, char *err, size_t errlen);
/* Read and verify; a damaged, truncated, wrong-version or inconsistent file is refused
 * with FS_EFORMAT (FS_EIO if it cannot be read) and a sentence in err. */
int fs_model_load(const char *path, fs_model *out, char *err, size_t errlen);
void fs_model_free(fs_model *m);

#endif
