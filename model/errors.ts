// The one base of the model's input errors: what a layout, a scenario, an instruction operand, an image of ftrace's
// code or a boot refuses about what it was given. The command line turns any of them into its one-line message
// (cli/common.ts wrapInput) without listing each; a bug of the model is any other exception.

/** Something the model was given is not what it can take (the subclass says which part). */
export class ModelInputError extends Error {}
