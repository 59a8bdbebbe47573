// Kernel error numbers the model returns, by the names scenario files use (include/uapi/asm-generic/errno-base.h,
// include/linux/errno.h for ENOTSUPP).

export const ERRNO = {
  EPERM: 1,
  ENOMEM: 12,
  EFAULT: 14,
  EBUSY: 16,
  ENODEV: 19,
  EINVAL: 22,
  ENOTSUPP: 524,
} as const;

export type ErrName = keyof typeof ERRNO;

/** 0 on success, else a negative errno as the kernel returns it. */
export type Ret = number;

export function errName(ret: Ret): 0 | `-${ErrName}` | `-${number}` {
  if (ret === 0) return 0;
  const hit = (Object.keys(ERRNO) as ErrName[]).find((k) => -ERRNO[k] === ret);
  return hit === undefined ? `-${-ret}` : `-${hit}`;
}
